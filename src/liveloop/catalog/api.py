"""Placeholder until the catalog domain lands."""

from fastapi import APIRouter

router = APIRouter()
