"""Offline training for namegen: data, model, training loop, export."""
