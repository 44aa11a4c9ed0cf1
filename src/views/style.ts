// The one stylesheet of our own (no framework). Colours meet WCAG AA contrast on white.
export const STYLESHEET = `
:root { --fg: #1b1f24; --muted: #4a5562; --accent: #0b5cad; --accent-dark: #084786; --danger: #b3261e; --ok: #1e6b35; --bg: #f5f7fa; --card: #ffffff; --border: #cfd6de; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); line-height: 1.5; }
body { margin: 0; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem; z-index: 10; }
.site-header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1rem; padding: .75rem 1.25rem; background: var(--card); border-bottom: 1px solid var(--border); }
.brand { font-weight: 700; font-size: 1.15rem; color: var(--fg); text-decoration: none; }
.site-header nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: center; }
a { color: var(--accent); }
main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 1.5rem; margin-bottom: 1.5rem; }
.narrow { max-width: 28rem; margin-left: auto; margin-right: auto; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=email], input[type=password], input[type=url], textarea, select { width: 100%; padding: .55rem .65rem; font: inherit; border: 1px solid #7b8794; border-radius: 6px; background: #fff; color: var(--fg); }
textarea { min-height: 6rem; }
input:focus, textarea:focus, select:focus, button:focus, a:focus { outline: 3px solid #f0b429; outline-offset: 1px; }
.hint { color: var(--muted); font-size: .9rem; margin: .25rem 0 0; }
.field-error { color: var(--danger); font-size: .9rem; margin: .25rem 0 0; font-weight: 600; }
.alert { padding: .75rem 1rem; border-radius: 6px; margin: 0 0 1rem; border: 1px solid; }
.alert-error { color: var(--danger); border-color: var(--danger); background: #fdecea; }
.alert-ok { color: var(--ok); border-color: var(--ok); background: #e8f5ec; }
.alert-warn { color: #7a4b00; border-color: #b07000; background: #fff4e0; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1.25rem; align-items: center; }
button, .button { display: inline-block; font: inherit; font-weight: 600; padding: .55rem 1.1rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; }
button:hover, .button:hover { background: var(--accent-dark); }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
button.link { background: none; border: none; color: var(--accent); padding: 0; text-decoration: underline; font-weight: 400; }
form.inline { display: inline; }
ul.scopes { padding-left: 1.25rem; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .5rem; border-bottom: 1px solid var(--border); vertical-align: top; overflow-wrap: anywhere; }
code, .secret { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
.secret { display: block; padding: .5rem; background: var(--bg); border: 1px solid var(--border); border-radius: 6px; }
fieldset { border: 1px solid var(--border); border-radius: 6px; margin: 1rem 0; padding: .75rem 1rem; }
legend { font-weight: 600; padding: 0 .25rem; }
.radio { display: flex; gap: .5rem; align-items: baseline; margin: .35rem 0; font-weight: 400; }
.muted { color: var(--muted); }
/* Portal pages: forms, lists of items, secrets, badges. */
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.field { margin-bottom: .25rem; }
time { white-space: nowrap; }
.field .label { font-weight: 600; margin: 1rem 0 .25rem; }
.check { display: flex; gap: .6rem; align-items: flex-start; margin-top: 1rem; }
.check input { width: 1.2rem; height: 1.2rem; margin: .15rem 0 0; flex: none; }
.check label { margin: 0; font-weight: 400; }
.page-head { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: center; justify-content: space-between; margin-bottom: 1rem; }
.page-head h1 { margin: 0; }
.crumbs { margin: 0 0 .5rem; font-size: .95rem; }
.crumbs a::before { content: "← "; }
.crumbs.narrow { margin-left: auto; margin-right: auto; }
ul.items { list-style: none; margin: 0; padding: 0; }
ul.items.card { padding: 0 1.5rem; }
.item { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: flex-start; justify-content: space-between; padding: 1rem 0; border-bottom: 1px solid var(--border); }
.item:last-child { border-bottom: none; }
.item-main { flex: 1 1 16rem; min-width: 0; }
.item-main h3, .item-title { font-size: 1.05rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
.item-main p { margin: .15rem 0; }
.item-action { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; }
.role-form { display: flex; gap: .5rem; align-items: center; }
.role-form select { width: auto; }
.copy-row { display: flex; gap: .5rem; align-items: stretch; }
.copy-row .secret { flex: 1 1 auto; min-width: 0; margin: 0; user-select: all; }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0; }
dl.details dt { font-weight: 600; }
dl.details dd { margin: 0; overflow-wrap: anywhere; }
ul.plain { list-style: none; margin: 0; padding: 0; }
a.button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
a.button.danger:hover, button.danger:hover { background: #8c1d17; border-color: #8c1d17; }
button.secondary:hover, .button.secondary:hover { background: #e8f0fa; }
button.link.danger-link { color: var(--danger); }
.danger-zone { border-color: #e3a6a1; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .85rem; font-weight: 600; background: #e6eaef; color: var(--fg); }
.badge-on { background: #e8f5ec; color: var(--ok); }
.badge-off { background: #fdecea; color: var(--danger); }
@media (max-width: 30rem) { ul.items.card { padding: 0 1rem; } dl.details { grid-template-columns: 1fr; } dl.details dd { margin-bottom: .5rem; } .copy-row { flex-direction: column; } }
@media (max-width: 30rem) { main { margin: 1rem auto; } .card { padding: 1rem; } }
`;
