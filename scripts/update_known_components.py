"""Regenerate packages/core/detcore/known_components.py from what the installed first-party
plugins register (run after adding or renaming a component; a test checks it is current)."""

from pathlib import Path

from detcore.registry import REGISTRIES

FIRST_PARTY = ("detdatasets", "detengine", "detmodels", "detops", "detyolo")
TARGET = Path(__file__).resolve().parents[1] / "packages/core/detcore/known_components.py"


def main():
    names = {dist: set() for dist in FIRST_PARTY}
    for registry in REGISTRIES.values():
        for entry in registry.entries():
            if entry.distribution in names:
                names[entry.distribution].add(entry.name)
    text = TARGET.read_text()
    head = text[: text.index("KNOWN_COMPONENTS")]
    body = ["KNOWN_COMPONENTS: dict[str, frozenset[str]] = {"]
    for dist in FIRST_PARTY:
        body.append(f'    "{dist}": frozenset({{')
        body += [f'        "{n}",' for n in sorted(names[dist])]
        body.append("    }),")
    body.append("}")
    TARGET.write_text(head + "\n".join(body) + "\n")
    print(f"wrote {TARGET}: " + ", ".join(f"{d} {len(n)}" for d, n in names.items()))


if __name__ == "__main__":
    main()
