// MathJax setup. Markdown pages: pymdownx.arithmatex (generic mode) turns $...$ and $$...$$
// into \(...\) and \[...\] inside elements of class "arithmatex". Notebook pages: the markdown
// cells (class "jp-RenderedMarkdown") and their headings in the table of contents keep the
// notebook's own $...$ and $$...$$. Everything else (the page body, the navigation) is ignored,
// so a "$" in prose, code or a notebook's printed output is never read as math. An ignored
// class applies to the whole subtree below it until a processed class starts a new one; it
// must not match elements without a class, or the children of a processed one are ignored.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: "md-typeset|md-nav|md-header|md-footer",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown|md-nav--secondary",
  },
};

// MathJax typesets the page it is loaded on by itself. Only a page that Material's instant
// navigation swaps in (document$ emits again) needs typesetting here; clearing the first page's
// cache after MathJax typeset it would drop the CSS of every glyph and leave the math blank.
let firstPage = true;
document$.subscribe(() => {
  if (firstPage) {
    firstPage = false;
    return;
  }
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise();
});
