// Run before the page is drawn (a classic script at the top of <body>, as the design system's own template does): the
// design system's styles for a browser that runs its script, the phone's menu closed, apply from the first paint,
// rather than once portal.js and govuk-frontend have loaded, when the page below the menu would jump up.
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
}
