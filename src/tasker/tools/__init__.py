"""Developer tools: process launcher and latency measurement."""
