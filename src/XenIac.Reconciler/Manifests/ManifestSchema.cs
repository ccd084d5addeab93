namespace XenIac.Reconciler.Manifests;

/// <summary>The JSON Schema of the manifest, for editors (yaml-language-server) and `xen-iac schema`.</summary>
public static class ManifestSchema
{
    public static string Text { get; } = Load();

    private static string Load()
    {
        using var stream = typeof(ManifestSchema).Assembly.GetManifestResourceStream("XenIac.Reconciler.manifest.schema.json")
            ?? throw new InvalidOperationException("manifest schema resource missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
