"""Placeholder until the customers domain lands."""

from fastapi import APIRouter

router = APIRouter()
