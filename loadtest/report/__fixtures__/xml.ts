/**
 * A strict well-formedness check for the SVGs the report writes, small enough to read: one root
 * element, every tag closed in order, attributes quoted and not repeated, `&` only in entities.
 * Returns the element names in document order, so tests can count them.
 */
const NAME = "[A-Za-z_][\\w.:-]*";
const TOKEN = new RegExp(
  `<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>|<!--[\\s\\S]*?-->|<\\?[\\s\\S]*?\\?>|<`,
  "g",
);
const ATTRIBUTE = new RegExp(`(${NAME})\\s*=`, "g");
const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

export function checkWellFormedXml(xml: string): string[] {
  const open: string[] = [];
  const elements: string[] = [];
  let roots = 0;
  let last = 0;
  for (const match of xml.matchAll(TOKEN)) {
    const text = xml.slice(last, match.index);
    if (open.length === 0 && text.trim() !== "")
      throw new Error(`text outside the root: ${text.slice(0, 40)}`);
    if (ENTITY.test(text)) throw new Error(`bare & in text near offset ${last}`);
    last = match.index + match[0].length;
    if (match[0] === "<")
      throw new Error(
        `malformed tag at offset ${match.index}: ${xml.slice(match.index, match.index + 40)}`,
      );
    const [, closing, name, attributes = "", selfClosing] = match;
    if (name === undefined) continue; // comment or processing instruction
    if (closing) {
      const expected = open.pop();
      if (expected !== name)
        throw new Error(`</${name}> closes <${expected ?? "nothing"}> at offset ${match.index}`);
      continue;
    }
    const names = [...attributes.matchAll(ATTRIBUTE)].map((a) => a[1]);
    if (new Set(names).size !== names.length)
      throw new Error(`<${name}> repeats an attribute at offset ${match.index}`);
    if (ENTITY.test(attributes))
      throw new Error(`bare & in an attribute of <${name}> at offset ${match.index}`);
    if (open.length === 0 && ++roots > 1) throw new Error(`second root element <${name}>`);
    elements.push(name);
    if (!selfClosing) open.push(name);
  }
  if (xml.slice(last).trim() !== "") throw new Error("text after the root element");
  if (open.length > 0) throw new Error(`unclosed <${open.join("> <")}>`);
  if (roots !== 1) throw new Error("no root element");
  return elements;
}
