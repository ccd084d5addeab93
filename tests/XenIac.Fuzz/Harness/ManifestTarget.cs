using System.Text;
using XenIac.Reconciler.Manifests;

namespace XenIac.Fuzz;

/// <summary>
/// The YAML manifest: <see cref="ManifestLoader.Parse"/> in a temp folder that holds the files the seeds name
/// (configs/*.cfg, images/*.xlsave), so path checks pass or fail on real files. Every error must carry a place
/// (line and column from 1), as the CLI prints <c>file:line:column</c>.
/// </summary>
public sealed class ManifestTarget : FuzzTarget
{
    private static readonly Lazy<string> Folder = new(CreateFolder);

    public override string Name => "manifest";
    public override IReadOnlyList<Type> Documented { get; } = [typeof(ManifestException)];
    public override IReadOnlyList<byte[]> Tokens { get; } = XlCfgTarget.Tokenize(": ", "- ", "\n", "  ", "\t", "&a ", "*a", "<<: ", "!!str ",
        "!!int ", "!!map ", "---\n", "...\n", "|\n", ">\n", "{", "}", "[", "]", ",", "'", "\"", "#", "? ", "%YAML 1.2\n", "~", "null",
        "0x7fffffffffffffff", "99999999999999999999", "version", "defaults", "domains", "name", "config", "savefile", "state",
        "overrides", "settings", "checkpoint", "paused", "force", "format", "host", "savefileDir", "running", "saved", "absent",
        "embedded:", "libxl", "configs/web.cfg", "images/db.xlsave", "../", "/", "true", "yes");

    /// <summary>The manifest's folder; created once per process and left for the OS to clean (it is tiny).</summary>
    public static string Root => Folder.Value;

    public override void Run(byte[] input, WorkMeter meter)
    {
        var text = Encoding.UTF8.GetString(input);
        meter.Add(text.Length);
        Manifest manifest;
        try
        {
            manifest = ManifestLoader.Parse(text, Path.Combine(Root, ManifestLoader.DefaultFileName));
        }
        catch (ManifestException e)
        {
            meter.Add(e.Errors.Count);
            foreach (var error in e.Errors)
                if (error.Location.Line < 1 || error.Location.Column < 1 || string.IsNullOrEmpty(error.Message))
                    throw new FuzzInvariantException($"manifest error without a place: {error}");
            throw;
        }
        foreach (var domain in manifest.Domains)
        {
            meter.Add(1 + domain.OverrideSettings.Count);
            foreach (var (_, value) in domain.OverrideSettings) meter.Add(value.ToString().Length);
        }
    }

    public override IEnumerable<byte[]> WarmUpInputs() =>
    [
        "version: 1\ndefaults:\n  host: embedded:.state\ndomains:\n  - name: web\n    config: configs/web.cfg\n    state: saved\n    overrides:\n      settings:\n        memory: 16\n        disk: [ 'x' ]\n"u8.ToArray(),
    ];

    private static string CreateFolder()
    {
        var root = Path.Combine(Path.GetTempPath(), $"xeniac-fuzz-manifest-{Environment.ProcessId}");
        Directory.CreateDirectory(Path.Combine(root, "configs"));
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "saves"));
        foreach (var name in new[] { "web", "db", "db-alt", "ci-runner" })
            File.WriteAllText(Path.Combine(root, "configs", name + ".cfg"), $"name = '{name}'\ntype = 'hvm'\nmemory = 8\nvcpus = 1\n");
        File.WriteAllBytes(Path.Combine(root, "images", "db.xlsave"), SeedFactory.SmallSavefile(Core.Streams.GuestType.HVM, 1, json: true));
        return root;
    }
}
