"""Rule-based tags: rules that apply and remove tags from profile fields and behaviour."""
