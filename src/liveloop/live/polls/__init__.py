"""Polls and votes (投票), Q&A (提问) and quizzes (答题) in the live room."""
