// Swagger UI 5 (reads OpenAPI 3.1) on the document named by this script's data-spec-url.
(function () {
  var specUrl = document.currentScript.getAttribute("data-spec-url");
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({
      url: specUrl,
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      defaultModelsExpandDepth: 0,
    });
  });
})();
