"""The watch wing: rebuild on save and reload the running box (`esb watch`, `esb up --watch`)."""
