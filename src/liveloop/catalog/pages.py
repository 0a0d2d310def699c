"""Placeholder until the catalog pages land."""

from fastapi import APIRouter

router = APIRouter()
