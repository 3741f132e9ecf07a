"""Report: tables, figures, the prefix probe widget and the book's generated pages (presentation only).

The pages: ``results_page`` (results overview, the gold lab's opening page), ``execution_page``,
``performance``, ``recipe_page``; ``book_runs`` reads the notebook runs they show and
``markdown.cell`` escapes every table cell.
"""
