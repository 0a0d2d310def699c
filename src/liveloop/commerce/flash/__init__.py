"""Flash sales (秒杀): a SKU at a special price with its own quantity, sold without oversell."""
