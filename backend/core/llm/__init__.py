"""The LLM layer of the QA pipeline: an OpenAI-compatible client, its circuit breaker and prompts.

Every failure surfaces as `LLMUnavailable`, so callers have one thing to catch and degrade on
(answers composed from the knowledge itself).
"""
