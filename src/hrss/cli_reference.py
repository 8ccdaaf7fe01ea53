"""docs/CLI.md, generated from the Typer app: every command, its help and its options.

`python -m hrss.cli_reference > docs/CLI.md` writes it; a test keeps it current, as
docs/SETTINGS.md is kept.
"""

from __future__ import annotations

from typing import Any

import typer

from hrss.cli import app


def _rows(command: Any, path: list[str]) -> list[str]:
    out = [f"### `{' '.join(path)}`", ""]
    text = (command.help or "").strip()
    if text:
        out += [text.split("\b")[0].strip(), ""]
    params = [p for p in command.params if p.name not in ("help", "install_completion", "show_completion")
              and not getattr(p, "hidden", False)]
    if params:
        out += ["| argument / option | meaning | default |", "| --- | --- | --- |"]
        for p in params:
            if p.param_type_name == "argument":
                name = f"`{p.name.upper() if p.name else ''}`"
                meaning = getattr(p, "help", None) or ""
            else:
                name = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
                meaning = getattr(p, "help", None) or ""
            default = p.default if not callable(p.default) else None
            shown = "" if default in (None, (), False) or p.required else f"`{default}`"
            if p.required:
                shown = "required"
            cell = " ".join(meaning.split()).replace("|", r"\|")
            out.append(f"| {name} | {cell} | {shown} |")
        out.append("")
    return out


def _walk(command: Any, path: list[str]) -> list[str]:
    if hasattr(command, "commands"):  # a group (Typer carries its own click)
        lines = []
        if len(path) > 1:
            lines += [f"## `{' '.join(path)}`", "", (command.help or "").strip(), ""]
        for name in sorted(command.commands):
            lines += _walk(command.commands[name], [*path, name])
        return lines
    return _rows(command, path)


def cli_markdown() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command line (`hrss`)",
        "",
        "Every command, as `hrss COMMAND --help` shows it. This page is generated from the Typer",
        "app by `python -m hrss.cli_reference > docs/CLI.md`; a test checks it. Settings",
        "(`HRSS_*` environment variables) are in docs/SETTINGS.md.",
        "",
    ]
    lines += _walk(root, ["hrss"])
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


if __name__ == "__main__":
    print(cli_markdown(), end="")
