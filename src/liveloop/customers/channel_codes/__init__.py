"""Channel codes (活码): invitation links and QR codes that route new customers to staff."""
