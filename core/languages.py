"""The site's languages, each in its own name, so a person finds theirs whatever the page's language
(the language switch and the choice of language for messages)."""

LANGUAGE_NAMES = [("es", "Español"), ("en", "English"), ("ht", "Kreyòl ayisyen")]
