// esbuild bundles imported stylesheets into the console's CSS file; the import has no value.
declare module '*.css';
