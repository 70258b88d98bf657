"""Running the whole stack on one machine: the README's run command, tests and benchmarks.

Production runs the same gunicorn command under docker-compose or Kubernetes (see deploy/).
"""
