"""The style and script inlined in every flamegraph SVG: click to zoom, search, reset, hover details.

Inline so the file works opened from disk with no network, as flamegraph.pl's do. The script only rewrites the
x, width and label of frames the Python side already laid out (`data-s`: first sample, `data-v`: samples,
`data-d`: depth); with scripts off the SVG is the same picture without the buttons.
"""

from __future__ import annotations

__all__ = ["HIGHLIGHT", "SCRIPT", "STYLE"]

#: Fill of frames that match a search (flamegraph.pl's magenta).
HIGHLIGHT = "rgb(230,0,230)"

STYLE = (
    "text{font-family:Verdana,'DejaVu Sans',sans-serif;font-size:11px;fill:#000;pointer-events:none}"
    ".title{font-size:16px;text-anchor:middle}.sub{fill:#555;text-anchor:middle}"
    ".warn{fill:#a00;text-anchor:middle}.links{fill:#555;text-anchor:middle;pointer-events:auto}"
    ".links a{fill:#06c;text-decoration:underline}.legend{fill:#333}"
    ".f:hover rect{stroke:#000;stroke-width:0.8}.js .f{cursor:pointer}.anc rect{opacity:0.55}"
    ".ui{display:none}.js .ui{display:inline}.js .reset{display:none}.js.zoomed .reset{display:inline}"
    ".btn{fill:#06c;cursor:pointer;pointer-events:all}.btn:hover{text-decoration:underline}"
    ".details{fill:#333}.matched{fill:#333;text-anchor:end}"
)

# Plain ES5 in a CDATA section: no build step, no dependency, nothing fetched.
SCRIPT = r"""
(function () {
  "use strict";
  var me = document.currentScript;
  var svg = (me && me.ownerSVGElement) || document.documentElement;
  var PAD = +svg.getAttribute("data-fg-pad"), W = +svg.getAttribute("data-fg-width") - 2 * PAD;
  var CHAR = +svg.getAttribute("data-fg-char"), HIGHLIGHT = svg.getAttribute("data-fg-highlight");
  var frames = Array.prototype.map.call(svg.querySelectorAll("g.f"), function (g) {
    var name = g.querySelector("title").textContent.split(" \u2014 ")[0];
    var m = /^(.*?) \(([^()]*)\)$/.exec(name);
    return {
      g: g, rect: g.querySelector("rect"), text: g.querySelector("text"), name: name, label: m ? m[1] : name,
      s: +g.getAttribute("data-s"), v: +g.getAttribute("data-v"), d: +g.getAttribute("data-d"),
      fill: g.querySelector("rect").getAttribute("fill")
    };
  });
  if (!frames.length) return;
  var root = frames[0], total = root.v;
  var one = function (cls) { return svg.querySelector("." + cls); };
  var details = one("details"), matched = one("matched"), searchBtn = one("search");
  var term = "";

  function place(f, x, w) {
    f.rect.setAttribute("x", x.toFixed(2));
    f.rect.setAttribute("width", Math.max(w - 0.5, 0.1).toFixed(2));
    f.text.setAttribute("x", (x + 3).toFixed(2));
    var fits = Math.floor((w - 6) / CHAR);
    f.text.textContent = fits < 3 ? "" : f.label.length <= fits ? f.label : f.label.slice(0, fits - 2) + "..";
  }

  function zoom(z) {
    var scale = W / z.v;
    frames.forEach(function (f) {
      var inside = f.d >= z.d && f.s >= z.s && f.s + f.v <= z.s + z.v;
      var above = f.d < z.d && f.s <= z.s && f.s + f.v >= z.s + z.v;
      f.g.style.display = inside || above ? "" : "none";
      f.g.classList.toggle("anc", above);
      if (inside) place(f, PAD + (f.s - z.s) * scale, f.v * scale);
      else if (above) place(f, PAD, W);
    });
    svg.classList.toggle("zoomed", z !== root);
  }

  function search(t) {
    term = t || "";
    var re = null;
    if (term) {
      try { re = new RegExp(term, "i"); }
      catch (e) { re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i"); }
    }
    var hits = [];
    frames.forEach(function (f) {
      var hit = re !== null && re.test(f.name);
      f.rect.setAttribute("fill", hit ? HIGHLIGHT : f.fill);
      f.g.classList.toggle("match", hit);
      if (hit) hits.push([f.s, f.s + f.v]);
    });
    // A frame's samples lie inside its ancestors' and apart from its siblings': the union of the matched ranges
    // counts each sample with a match on its stack once.
    hits.sort(function (a, b) { return a[0] - b[0]; });
    var covered = 0, end = -1;
    hits.forEach(function (h) {
      var from = Math.max(h[0], end);
      if (h[1] > from) { covered += h[1] - from; end = h[1]; }
    });
    matched.textContent = term ? "Matched: " + (100 * covered / total).toFixed(1) + "% of samples (" +
      hits.length + " frame" + (hits.length === 1 ? "" : "s") + ")" : "";
    searchBtn.textContent = term ? "Reset search" : "Search";
  }

  function ask() {
    var t = window.prompt("Search frames (regular expression, any case)", term);
    if (t !== null) search(t);
  }

  frames.forEach(function (f) {
    f.g.addEventListener("click", function () { zoom(f); });
    f.g.addEventListener("mouseover", function () { details.textContent = f.g.querySelector("title").textContent; });
    f.g.addEventListener("mouseout", function () { details.textContent = ""; });
  });
  one("reset").addEventListener("click", function () { zoom(root); });
  searchBtn.addEventListener("click", function () { if (term) search(""); else ask(); });
  if (svg === document.documentElement) {  // a standalone file: the keys and the URL are its own
    window.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) { e.preventDefault(); ask(); }
      else if (e.key === "Escape") { search(""); }
    });
    var q = /[?&]s=([^&#]*)/.exec(window.location.search);
    if (q) search(decodeURIComponent(q[1].replace(/\+/g, " ")));
  }
  var sub = one("sub");
  sub.textContent += " \u00b7 click a frame to zoom, Search (Ctrl+F) to highlight";
  svg.classList.add("js");
})();
"""
