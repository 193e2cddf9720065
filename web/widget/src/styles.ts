// The widget's whole stylesheet, inside its shadow root: the host page's CSS cannot reach in and this cannot
// leak out. `all: initial` on :host stops the page's inherited font, colour and line-height at the door; the
// outer page's rules on the host element itself still beat :host, so the two top-level boxes set text anew.
// Theme variables (--steward-*) are read with fallbacks, so a page may set them on steward-chat or on :root.
// Default colours pass WCAG AA: accent #1d4ed8 on white 6.7:1, muted #4b5563 on #f3f4f6 6.9:1,
// unsupported #92400e on white 7.1:1, error #b91c1c on #f3f4f6 5.9:1.

export const CSS = `
:host{all:initial;display:block;
--a:var(--steward-accent,#1d4ed8);--at:var(--steward-accent-text,#fff);--bg:var(--steward-bg,#fff);
--tx:var(--steward-text,#1f2937);--mu:var(--steward-muted,#4b5563);--sf:var(--steward-surface,#f3f4f6);
--bd:var(--steward-border,#9ca3af);--er:var(--steward-error,#b91c1c);--un:var(--steward-unsupported,#92400e);
--r:var(--steward-radius,12px);--z:var(--steward-z-index,2147483000);
font:15px/1.45 var(--steward-font,system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif);color:var(--tx)}
.launcher,.panel{font:15px/1.45 var(--steward-font,system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif);letter-spacing:normal;word-spacing:normal;text-transform:none;text-align:left;text-indent:0;text-shadow:none;font-style:normal;font-weight:400}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer}
button:disabled{cursor:default;opacity:.6}
:focus-visible{outline:2px solid var(--a);outline-offset:2px}
.launcher{position:fixed;right:20px;bottom:20px;z-index:var(--z);width:56px;height:56px;border:0;border-radius:50%;background:var(--a);color:var(--at);box-shadow:0 4px 14px rgba(0,0,0,.3);display:grid;place-items:center;padding:0}
.launcher svg{width:28px;height:28px;fill:currentColor}
.panel{position:fixed;right:20px;bottom:88px;z-index:var(--z);width:min(400px,calc(100vw - 40px));height:min(620px,calc(100vh - 108px));display:flex;flex-direction:column;background:var(--bg);color:var(--tx);border:1px solid var(--bd);border-radius:var(--r);box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden}
header{display:flex;align-items:center;gap:8px;padding:8px 8px 8px 14px;background:var(--a);color:var(--at)}
h2{flex:1;margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header button{background:none;border:1px solid currentColor;border-radius:6px;padding:3px 8px;font-size:13px}
header .x{border-color:transparent;font-size:22px;line-height:1;padding:2px 8px}
header :focus-visible{outline-color:var(--at)}
.messages{order:1;flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:12px;overscroll-behavior:contain}
form{order:2;display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid var(--bd)}
textarea{flex:1;resize:none;min-height:44px;max-height:140px;padding:8px 10px;border:1px solid var(--mu);border-radius:8px;background:var(--bg);color:var(--tx)}
::placeholder{color:var(--mu);opacity:1}
.primary{min-height:44px;padding:0 16px;border:0;border-radius:8px;background:var(--a);color:var(--at);font-weight:600}
.msg{max-width:92%;padding:8px 12px;border-radius:var(--r);background:var(--sf);align-self:flex-start;overflow-wrap:anywhere}
.msg[data-role=user]{align-self:flex-end;background:var(--a);color:var(--at);white-space:pre-wrap}
.answer{white-space:pre-wrap}
.muted,.note{color:var(--mu);font-size:13px}
.note{margin-top:6px}
.empty{margin:auto 0;color:var(--mu);text-align:center}
.unsupported{text-decoration:underline dotted var(--un) 2px;text-underline-offset:3px}
.badge{display:inline-block;padding:0 5px;border:1px solid var(--un);border-radius:4px;background:var(--bg);color:var(--un);font-size:11px;line-height:1.5;vertical-align:1px;white-space:nowrap}
.chips,.actions{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-top:8px}
.chip{min-width:28px;height:28px;padding:0 8px;border:1px solid var(--a);border-radius:999px;background:var(--bg);color:var(--a);font-size:13px;font-weight:600}
.chip[aria-expanded=true]{background:var(--a);color:var(--at)}
sup{line-height:0}
.mark{min-width:20px;padding:1px 4px;border:1px solid var(--a);border-radius:6px;background:var(--bg);color:var(--a);font-size:11px;font-weight:600;line-height:1.2;vertical-align:baseline}
.src{margin-top:8px;padding:8px 10px;border-left:3px solid var(--a);border-radius:4px;background:var(--bg)}
blockquote{margin:6px 0 0;max-height:200px;overflow:auto;white-space:pre-wrap}
.ghost{min-height:32px;padding:2px 10px;border:1px solid var(--bd);border-radius:6px;background:var(--bg);color:var(--tx)}
.thumb svg{width:18px;height:18px;fill:currentColor;vertical-align:middle}
.down svg{transform:rotate(180deg)}
.ghost[aria-pressed=true]{border-color:var(--a);background:var(--a);color:var(--at)}
.err{color:var(--er)}
.err:empty{display:none}
.fb{display:flex;flex-direction:column;gap:4px;margin-top:8px;font-size:13px}
.fb textarea{min-height:0}
.nearest{margin:4px 0 0;padding-left:20px}
@media (max-width:479px){.panel{inset:0;width:100%;height:100%;border:0;border-radius:0}}
`;
