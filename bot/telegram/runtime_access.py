"""Where handlers find the Runtime: in the Application's bot_data, put there once at start."""

from __future__ import annotations

from telegram.ext import Application, ContextTypes

from ..runtime import Runtime

KEY = "tipbot.runtime"


def attach(application: Application, runtime: Runtime) -> None:
    application.bot_data[KEY] = runtime


def runtime_in(application: Application) -> Runtime:
    return application.bot_data[KEY]


def runtime_of(context: ContextTypes.DEFAULT_TYPE) -> Runtime:
    return runtime_in(context.application)
