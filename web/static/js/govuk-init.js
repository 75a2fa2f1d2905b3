// Runs first in <body>: tells GOV.UK Frontend's styles that JavaScript is on. Kept in a file
// (not inline) so the Content Security Policy can forbid inline scripts.
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
