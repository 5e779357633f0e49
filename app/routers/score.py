"""PLACEHOLDER (helper H1 replaces this)."""

from fastapi import APIRouter

router = APIRouter()
