"""Placeholder until the shops pages land."""

from fastapi import APIRouter

router = APIRouter()
