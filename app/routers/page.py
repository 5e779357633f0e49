"""PLACEHOLDER (helper H3 replaces this): the web page at GET /."""

from fastapi import APIRouter

router = APIRouter()
