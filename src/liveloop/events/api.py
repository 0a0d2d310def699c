"""Placeholder until the events domain lands."""

from fastapi import APIRouter

router = APIRouter()
