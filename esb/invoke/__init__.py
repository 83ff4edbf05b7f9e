"""`esb invoke` and `esb generate-event`: one call of a built function, and the sample events to call it with."""
