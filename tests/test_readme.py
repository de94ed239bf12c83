"""The README's generated parts match the code."""
from pathlib import Path

from jaxgan import config_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_holds_the_configuration_reference_the_configs_generate():
    text = README.read_text()
    start, end = text.find(config_reference.BEGIN), text.find(config_reference.END)
    assert 0 <= start < end, "the README lost its configuration reference markers"
    assert text[start:end + len(config_reference.END)] == config_reference.reference(), \
        "the configs changed: paste `python -m jaxgan.config_reference` into the README"
