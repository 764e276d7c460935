"""The bridge from persuasion games to real language models (Advisor and Receiver)."""
