"""Report: tables, figures, the prefix probe widget and the book's generated pages (presentation only).

``tables`` shows tables for people; ``plots`` draws the figures and publishes them
(``publish_figure``: the image, its data and its place in the book); ``decoding_claim`` shows a
decoding table next to the paper's with its claim's effects (notebooks 08-10).

The pages: ``results_page`` (results overview, the gold lab's opening page), ``execution_page``,
``performance``, ``recipe_page``, ``budget_page`` (its figures too), ``window_page`` (the window fix,
before and after); ``book_runs`` reads the notebook runs they show and ``markdown.cell`` escapes every
table cell.
"""
