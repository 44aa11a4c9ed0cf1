// /assets/copy.js: progressive enhancement for the once-only secret page. Without JavaScript
// the id and secret are plain selectable text (a click selects all of it, see style.ts); with
// it, each "Copy" button is revealed and copies its value. Served as a file because the CSP
// forbids inline scripts. The button carries its confirmations in the page's language
// (data-copied, data-selected); English when they are missing.
export const COPY_SCRIPT = `'use strict';
(function () {
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function done(button, text) {
    var label = button.firstChild;
    var original = label.nodeValue;
    label.nodeValue = text;
    setTimeout(function () { label.nodeValue = original; }, 2000);
  }
  function legacyCopy(el, button) {
    selectText(el);
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    done(button, ok ? (button.getAttribute('data-copied') || 'Copied') : (button.getAttribute('data-selected') || 'Selected: press Ctrl+C'));
  }
  var buttons = document.querySelectorAll('button[data-copy]');
  Array.prototype.forEach.call(buttons, function (button) {
    var el = document.getElementById(button.getAttribute('data-copy'));
    if (!el) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var value = el.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(function () { done(button, button.getAttribute('data-copied') || 'Copied'); }, function () { legacyCopy(el, button); });
      } else {
        legacyCopy(el, button);
      }
    });
  });
})();
`;
