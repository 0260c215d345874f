// A small in-page accessibility audit (no third-party code): every visible control has an
// accessible name, text meets WCAG AA contrast against its real background, no program
// value ("null", "undefined") leaks into the page, and nothing overflows the viewport
// sideways. Returns a list of problems (empty when all is well).
() => {
  const problems = [];
  const visible = (el) => {
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") return false;
    return el.getClientRects().length > 0;
  };
  const describe = (el) => el.outerHTML.replace(/\s+/g, " ").slice(0, 100);

  // 1. Names for everything one can operate.
  const nameOf = (el) => {
    const label = el.getAttribute("aria-label");
    if (label && label.trim()) return label;
    const by = el.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" ");
    if (el.labels && el.labels.length) return [...el.labels].map((l) => l.textContent).join(" ");
    if (["BUTTON", "A", "SUMMARY"].includes(el.tagName) || el.getAttribute("role") === "tab") return el.textContent;
    return el.getAttribute("title") || "";
  };
  const controls = "button, input:not([type=hidden]), select, textarea, summary, a[href], [role=tab], [role=log], [role=tablist], dialog";
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el)) continue;
    if (!nameOf(el).trim()) problems.push(`no accessible name: ${describe(el)}`);
  }

  // 2. Contrast of text against the background it is drawn on.
  const parse = (color) => {
    const m = color.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const parts = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const luminance = ({ r, g, b }) => {
    const channel = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const backgroundOf = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg.a > 0.5) return bg;
    }
    return { r: 255, g: 255, b: 255, a: 1 }; // the canvas: white unless a page colour is set
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode;
    const el = text.parentElement;
    if (!text.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
    if (el.closest("[disabled], .visually-hidden, option")) continue;
    if (/^(null|undefined|\[object Object\]|NaN)$/.test(text.textContent.trim())) {
      problems.push(`leaked value "${text.textContent.trim()}" in ${describe(el)}`);
    }
    seen.add(el);
    const style = getComputedStyle(el);
    const fg = parse(style.color);
    const bg = backgroundOf(el);
    const l1 = luminance(fg);
    const l2 = luminance(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) {
      problems.push(`contrast ${ratio.toFixed(2)} < ${needed} for "${text.textContent.trim().slice(0, 40)}" (${style.color} on rgb(${bg.r}, ${bg.g}, ${bg.b}))`);
    }
  }

  // 3. No sideways scrolling.
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1) {
    problems.push(`page is ${document.documentElement.scrollWidth}px wide in a ${width}px viewport`);
  }
  return problems;
}
