"""The built Bootstrap (`npm run build`, scripts/build-css.mjs) keeps every Bootstrap rule a
template can use: PurgeCSS reads the templates, so this fails when the build is stale or when a
template builds a class name PurgeCSS cannot see."""

import re
from pathlib import Path

from django.conf import settings
from django.contrib.messages import constants
from django.contrib.messages.storage.base import LEVEL_TAGS
from django.contrib.staticfiles import finders

from core.checks import BUILT_CSS

BASE_DIR = Path(settings.BASE_DIR)
FULL_BOOTSTRAP = BASE_DIR / "node_modules" / "bootstrap" / "dist" / "css" / "bootstrap.css"
CLASS_ATTRIBUTE = re.compile(r'\bclass="([^"]*)"')
TEMPLATE_CODE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][_a-zA-Z0-9-]*)")
# Classes a template writes from a variable, with every value the variable can take.
DYNAMIC = {
    # base.html: alert-{{ message.level_tag }}, "error" shown as alert-danger; debug messages are
    # below the level Django shows.
    "alert-": {f"alert-{LEVEL_TAGS[level]}" for level in (constants.INFO, constants.SUCCESS, constants.WARNING)},
}


def classes_in(css: str) -> set[str]:
    without_urls = re.sub(r"url\([^)]*\)", "", css)
    return set(CLASS_SELECTOR.findall(without_urls))


def built_css() -> str:
    path = finders.find(BUILT_CSS)
    assert path, f"{BUILT_CSS} is not built: run `npm run build` (make test does)"
    return Path(path).read_text(encoding="utf-8")


def template_classes() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Class names each template writes as they are, and the prefixes it completes with a variable."""
    plain: dict[str, set[str]] = {}
    dynamic: dict[str, set[str]] = {}
    for path in sorted((BASE_DIR / "templates").rglob("*.html")):
        name = str(path.relative_to(BASE_DIR))
        for value in CLASS_ATTRIBUTE.findall(path.read_text(encoding="utf-8")):
            marked = TEMPLATE_CODE.sub(lambda code: "\0" if code[0].startswith("{{") else " ", value)
            for token in marked.split():
                if "\0" not in token:
                    plain.setdefault(name, set()).add(token)
                elif token.index("\0") > 0:
                    dynamic.setdefault(name, set()).add(token[: token.index("\0")])
    return plain, dynamic


def test_every_bootstrap_class_a_template_uses_is_built() -> None:
    bootstrap, built = classes_in(FULL_BOOTSTRAP.read_text(encoding="utf-8")), classes_in(built_css())
    plain, _ = template_classes()
    missing = {name: sorted((used & bootstrap) - built) for name, used in plain.items() if (used & bootstrap) - built}
    assert missing == {}, f"run `npm run build`, or PurgeCSS missed these: {missing}"
    assert "btn-primary" in plain["templates/eligibility/result.html"], "the scan finds classes"


def test_classes_built_from_a_variable_are_kept() -> None:
    bootstrap, built = classes_in(FULL_BOOTSTRAP.read_text(encoding="utf-8")), classes_in(built_css())
    _, dynamic = template_classes()
    for name, prefixes in dynamic.items():
        for prefix in prefixes:
            if not any(selector.startswith(prefix) for selector in bootstrap):
                continue  # one of ours (site.css), not purged
            assert prefix in DYNAMIC, (
                f"{name} writes a Bootstrap class from a variable ({prefix}{{{{ ... }}}}), which PurgeCSS "
                "cannot see: add every value it can take to the safelist in scripts/build-css.mjs and to "
                "DYNAMIC here"
            )
            assert DYNAMIC[prefix] <= built, f"not built: {sorted(DYNAMIC[prefix] - built)}"
    assert "alert-" in dynamic["templates/base.html"]


def test_the_built_css_is_a_fraction_of_bootstrap() -> None:
    # Bootstrap's own minified file is about 232 KB; the site needs a tenth of it at most.
    assert len(built_css().encode()) < 40_000
    assert "Licensed under MIT" in built_css(), "Bootstrap's licence banner stays"
    assert "sourceMappingURL" not in built_css()
