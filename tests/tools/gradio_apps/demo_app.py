"""A small Gradio app for the Tool.from_space tests, served on loopback.

Run: ``python demo_app.py`` prints ``URL <address>`` once it listens, then
serves until its standard input closes. Endpoints: ``/greet`` (text),
``/red_square`` (an image), ``/stats`` (two outputs) and ``/broken`` (raises).
"""

from __future__ import annotations

import sys

import gradio as gr
import numpy as np


def greet(name: str, times: int = 1) -> str:
    return " ".join([f"Hello, {name}!"] * int(times))


def red_square(size: float = 8) -> np.ndarray:
    side = int(size)
    return np.full((side, side, 3), [255, 0, 0], dtype=np.uint8)


def stats(numbers: str) -> tuple[dict, float]:
    values = [float(x) for x in numbers.split(",")]
    return {"mean": sum(values) / len(values), "max": max(values)}, len(values)


def broken(text: str) -> str:
    raise gr.Error(f"cannot handle {text!r}")


with gr.Blocks() as demo:
    gr.Interface(greet, [gr.Textbox(label="name"), gr.Number(value=1, label="times", precision=0)], gr.Textbox(), api_name="greet",
                 api_description="Greets someone, several times if asked.")
    gr.Interface(red_square, [gr.Slider(1, 64, value=8, label="size")], gr.Image(type="numpy"), api_name="red_square",
                 api_description="Draws a red square of the given size in pixels.")
    gr.Interface(stats, [gr.Textbox(label="numbers")], [gr.JSON(), gr.Number()], api_name="stats")
    gr.Interface(broken, [gr.Textbox(label="text")], gr.Textbox(), api_name="broken")

if __name__ == "__main__":
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    print("URL", url, flush=True)
    sys.stdin.read()
    demo.close()
