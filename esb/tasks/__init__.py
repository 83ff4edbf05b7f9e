"""doit task creators of esb, one module per concern."""
