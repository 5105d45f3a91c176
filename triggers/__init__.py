"""Entry points that feed the dispatcher (HTTP routes, cron, RabbitMQ): issue 4."""
