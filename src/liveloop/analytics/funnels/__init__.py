"""Purchase funnels with who dropped where and why; converted vs not converted."""
