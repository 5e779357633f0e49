"""namegen: the HTTP service and CLI around the exported name model."""
