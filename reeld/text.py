"""Words for people: counts with the right noun, nouns with the right article."""


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 item``, ``2 items``, ``3 libraries`` (``plural_form`` when adding an s is wrong)."""
    noun = singular if count == 1 else plural_form or f"{singular}s"
    return f"{count} {noun}"


def with_article(noun: str) -> str:
    """``a movie``, ``an album``, ``an episode``."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
