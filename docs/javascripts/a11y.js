// Every region that scrolls sideways or up and down (a code block, a notebook cell, an output,
// a wide table) takes keyboard focus, so a reader without a mouse can scroll it with the arrow
// keys (WCAG 2.1.1; checked by axe-core in tests/test_site.py).
function focusableScrollRegions() {
  const candidates = document.querySelectorAll(
    ".md-typeset pre, .md-typeset pre > code, .md-typeset__scrollwrap, .highlight-ipynb, " +
    ".walk-frames p, " +
    ".jp-OutputArea-output, .jp-OutputArea-output pre, .jp-RenderedHTMLCommon, .crp-svg");
  for (const element of candidates) {
    const scrolls = element.scrollWidth > element.clientWidth + 1
      || element.scrollHeight > element.clientHeight + 1;
    const style = getComputedStyle(element);
    const canScroll = /(auto|scroll)/.test(style.overflowX + style.overflowY);
    if (scrolls && canScroll && !element.hasAttribute("tabindex")) {
      element.setAttribute("tabindex", "0");
    }
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", focusableScrollRegions);
} else {
  focusableScrollRegions();
}
window.addEventListener("load", focusableScrollRegions);
window.addEventListener("resize", focusableScrollRegions);

// A walkthrough frame (Graphviz draws its text at 14 pt) never shrinks below 12 px text: a
// frame wider than the column scrolls sideways instead (docs/concepts/graphs.md).
const MIN_TEXT_PX = 12;
const DOT_TEXT_PX = (14 * 96) / 72;

function legibleFrames() {
  for (const img of document.querySelectorAll("img.graph-frame")) {
    const fit = () => {
      img.style.minWidth = `${Math.ceil((img.naturalWidth * MIN_TEXT_PX) / DOT_TEXT_PX)}px`;
      focusableScrollRegions();
    };
    if (img.complete && img.naturalWidth) fit();
    else img.addEventListener("load", fit, { once: true });
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", legibleFrames);
} else {
  legibleFrames();
}
