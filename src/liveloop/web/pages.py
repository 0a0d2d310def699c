"""Placeholder until the web pages land."""

from fastapi import APIRouter

router = APIRouter()
