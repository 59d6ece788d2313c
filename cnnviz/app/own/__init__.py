"""The app on a teacher's own model: :mod:`~cnnviz.app.own.handlers` (UI values to UI
values, no gradio) and :mod:`~cnnviz.app.own.page` (the page, built and wired);
:func:`cnnviz.app.launch` serves it."""
