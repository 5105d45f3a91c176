"""Entry points that feed the invocation service (HTTP routes, cron, RabbitMQ): issue 4."""
