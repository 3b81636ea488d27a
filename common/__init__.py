"""Code shared by the backend and the front server: the gunicorn runner and the JSON error shape."""
