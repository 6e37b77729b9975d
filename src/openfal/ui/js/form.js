// A form generated from an endpoint's input JSON schema (what pydantic produces).
// Each field is {el, get(), set(value)}; get() returns undefined to leave a key out.
import { h } from "./dom.js";
import { upload } from "./api.js";

export const IMAGE_SIZES = ["square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9"];

function deref(schema, root) {
  let s = schema || {};
  while (s.$ref) s = root.$defs?.[s.$ref.split("/").pop()] || {};
  return s;
}

// {type, nullable} of a property, looking through Optional[...] (anyOf with null)
function unwrap(schema, root) {
  const s = deref(schema, root);
  const options = s.anyOf || s.oneOf;
  if (!options) return { schema: s, nullable: false };
  const rest = options.filter((o) => o.type !== "null");
  if (rest.length === 1) {
    const { title, description, default: dflt } = s;
    return { schema: { ...deref(rest[0], root), title, description, default: dflt }, nullable: rest.length < options.length };
  }
  return { schema: s, nullable: rest.length < options.length };
}

const label = (name, s) => s.title || name.replace(/_/g, " ");
const isFileName = (name) => /(^|_)(url|urls|uri|file|files)$/.test(name) || /_(image|audio|video|mask|file)_url/.test(name);
const isImageSize = (name, s, root) =>
  name === "image_size" || (s.anyOf || []).some((o) => (o.enum || []).includes("square_hd") || deref(o, root).title === "ImageSize");

export function field(name, schema, root) {
  const { schema: s, nullable } = unwrap(schema, root);
  if (isImageSize(name, s, root)) return imageSizeField(name, s);
  if (s.enum) return enumField(name, s, nullable);
  if (s.type === "boolean") return boolField(name, s);
  if (s.type === "integer" || s.type === "number") return numberField(name, s, nullable);
  if (s.type === "string") return isFileName(name) ? fileField(name, s) : textField(name, s);
  if (s.type === "array") return arrayField(name, s, root);
  if (s.type === "object" && s.properties) return objectField(name, s, root, nullable);
  return jsonField(name, s);
}

function wrap(name, s, control, extra) {
  return h("label.field", { dataset: { field: name } },
    h("span.name", {}, label(name, s)),
    s.description ? h("span.help", {}, s.description) : null,
    control, extra);
}

function textField(name, s) {
  const long = /prompt|text|description|content|system/.test(name) || (s.maxLength || 0) > 200;
  const input = long ? h("textarea", { name, rows: 3 }) : h("input", { name, type: "text" });
  if (s.examples?.length) input.placeholder = String(s.examples[0]);
  return {
    el: wrap(name, s, input),
    get: () => (input.value === "" ? undefined : input.value),
    set: (v) => { input.value = v ?? ""; },
  };
}

function numberField(name, s, nullable) {
  const min = s.minimum ?? s.exclusiveMinimum, max = s.maximum ?? s.exclusiveMaximum;
  const step = s.type === "integer" ? 1 : (s.multipleOf || "any");
  const input = h("input", { name, type: "number", step, min, max });
  let slider = null;
  if (min !== undefined && max !== undefined) {
    slider = h("input", { type: "range", min, max, step: s.type === "integer" ? 1 : (max - min) / 100, oninput: () => { input.value = slider.value; } });
    input.addEventListener("input", () => { slider.value = input.value; });
  }
  return {
    el: wrap(name, s, h("div.number", {}, input, slider)),
    get: () => {
      if (input.value === "") return nullable || s.default === undefined ? undefined : s.default;
      return s.type === "integer" ? parseInt(input.value, 10) : parseFloat(input.value);
    },
    set: (v) => { input.value = v ?? ""; if (slider && v !== null && v !== undefined) slider.value = v; },
  };
}

function enumField(name, s, nullable) {
  const select = h("select", { name }, nullable ? h("option", { value: "" }, "—") : null,
    s.enum.map((v) => h("option", { value: JSON.stringify(v) }, String(v))));
  return {
    el: wrap(name, s, select),
    get: () => (select.value === "" ? undefined : JSON.parse(select.value)),
    set: (v) => { select.value = v === null || v === undefined ? "" : JSON.stringify(v); },
  };
}

function boolField(name, s) {
  const box = h("input", { name, type: "checkbox" });
  return {
    el: h("label.field.check", { dataset: { field: name } }, box, h("span.name", {}, label(name, s)),
      s.description ? h("span.help", {}, s.description) : null),
    get: () => box.checked,
    set: (v) => { box.checked = Boolean(v); },
  };
}

function imageSizeField(name, s) {
  const select = h("select", { name }, IMAGE_SIZES.map((p) => h("option", { value: p }, p)), h("option", { value: "custom" }, "custom…"));
  const width = h("input", { type: "number", min: 1, step: 1, value: 512, "aria-label": "width" });
  const height = h("input", { type: "number", min: 1, step: 1, value: 512, "aria-label": "height" });
  const custom = h("div.number.custom-size", { hidden: true }, width, "×", height);
  select.addEventListener("change", () => { custom.hidden = select.value !== "custom"; });
  return {
    el: wrap(name, s, h("div", {}, select, custom)),
    get: () => (select.value === "custom" ? { width: +width.value, height: +height.value } : select.value),
    set: (v) => {
      if (v && typeof v === "object") { select.value = "custom"; width.value = v.width; height.value = v.height; }
      else if (v) select.value = v;
      custom.hidden = select.value !== "custom";
    },
  };
}

// A URL field that also takes a file: dropped or picked files go through the storage API.
function fileField(name, s) {
  const input = h("input", { name, type: "url", placeholder: "https://… or drop a file here" });
  const picker = h("input", { type: "file", "aria-label": `upload ${name}` });
  const state = h("span.muted.upload-state");
  const zone = h("div.dropzone", {}, input, picker, state);
  async function take(file) {
    state.textContent = `uploading ${file.name}…`;
    zone.classList.add("busy");
    try {
      input.value = await upload(file);
      state.textContent = `uploaded ${file.name} (${file.size} bytes)`;
    } catch (e) {
      state.textContent = `upload failed: ${e.message}`;
    } finally {
      zone.classList.remove("busy");
    }
  }
  picker.addEventListener("change", () => picker.files[0] && take(picker.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files[0]) take(e.dataTransfer.files[0]);
  });
  return {
    el: wrap(name, s, zone),
    get: () => (input.value === "" ? undefined : input.value),
    set: (v) => { input.value = v ?? ""; },
  };
}

function arrayField(name, s, root) {
  const items = [];
  const list = h("div.array");
  const itemSchema = s.items || {};
  function add(value) {
    const f = field(name.replace(/s$/, ""), itemSchema, root);
    const row = h("div.array-item", {}, f.el, h("button.ghost", { type: "button", onclick: () => {
      items.splice(items.indexOf(entry), 1);
      row.remove();
    } }, "remove"));
    const entry = { f, row };
    items.push(entry);
    if (value !== undefined) f.set(value);
    list.append(row);
  }
  const addButton = h("button.ghost", { type: "button", onclick: () => add() }, "+ add");
  return {
    el: wrap(name, s, h("div", {}, list, addButton)),
    get: () => (items.length ? items.map((e) => e.f.get()).filter((v) => v !== undefined) : undefined),
    set: (v) => { items.splice(0).forEach((e) => e.row.remove()); (v || []).forEach((x) => add(x)); },
  };
}

function objectField(name, s, root, nullable) {
  const form = buildFields(s, root);
  return {
    el: h("fieldset.object", { dataset: { field: name } }, h("legend", {}, label(name, s)), form.el),
    get: () => { const v = form.get(); return nullable && !Object.keys(v).length ? undefined : v; },
    set: (v) => form.set(v || {}),
  };
}

function jsonField(name, s) {
  const area = h("textarea.code", { name, rows: 3, placeholder: "JSON" });
  return {
    el: wrap(name, s, area),
    get: () => (area.value.trim() === "" ? undefined : JSON.parse(area.value)),
    set: (v) => { area.value = v === undefined ? "" : JSON.stringify(v, null, 2); },
  };
}

// Required fields first; optional ones under "Advanced". Defaults are filled in.
function buildFields(schema, root, advancedTitle) {
  const required = new Set(schema.required || []);
  const fields = {};
  const main = h("div.fields");
  const advanced = h("div.fields");
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const f = field(name, prop, root);
    const dflt = unwrap(prop, root).schema.default ?? deref(prop, root).default;
    if (dflt !== undefined) f.set(dflt);
    fields[name] = f;
    // with nothing required, every field stays in view
    (required.has(name) || !advancedTitle || !required.size ? main : advanced).append(f.el);
  }
  const el = h("div", {}, main, advanced.childElementCount
    ? h("details.advanced", {}, h("summary", {}, advancedTitle), advanced) : null);
  return {
    el,
    get: () => Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.get()]).filter(([, v]) => v !== undefined)),
    set: (values) => Object.entries(values || {}).forEach(([k, v]) => fields[k]?.set(v)),
  };
}

export function buildForm(schema) {
  const root = deref(schema || { type: "object" }, schema || {});
  return buildFields(root, schema || {}, "Advanced");
}
