using System.CommandLine;
using XenIac.Reconciler.Manifests;

namespace XenIac.Cli.Commands.Import;

/// <summary>
/// <c>xen-iac import</c>: a manifest for what a host runs and a folder of savefiles holds, or one domain added to an
/// existing manifest. The command line only; behaviour in <see cref="ImportHandlers"/>, output in <see cref="ImportRendering"/>.
/// </summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var name = new Argument<string?>("NAME")
        {
            Description = "Add only this domain to the existing manifest -f (default ./" + ManifestLoader.DefaultFileName + ")",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var host = CommandLine.HostOption(
            $"Host to import from: 'libxl' or 'embedded:<folder>' (default: the manifest's defaults.host with NAME, else ${CommandLine.HostVariable})");
        var savefiles = new Option<string?>("--savefiles")
        {
            Description = "Folder of savefiles: domains not running whose savefile is there are imported as saved (with NAME: default the manifest's savefileDir)",
        };
        var output = new Option<string?>("--out", "-o") { Description = "Write the manifest to FILE (refused when it exists, unless --force); default: print it" };
        var file = new Option<string>("--file", "-f") { Description = "The existing manifest NAME is added to" };
        CommandLine.RejectFolder(file);
        var force = new Option<bool>("--force") { Description = "Replace an existing --out file, and config files under configs/ whose content differs" };
        var json = CommandLine.JsonOption();
        var command = new Command("import", "Write a manifest (and xl.cfg files) for a host's domains and a folder's savefiles, so plan shows no changes")
        {
            name, host, savefiles, output, file, force, json,
        };
        command.Validators.Add(r =>
        {
            var hasName = r.GetValue(name) is not null;
            if (hasName && r.GetValue(output) is not null)
                r.AddError("import NAME adds to the manifest -f; --out writes a new manifest of everything: give one of them");
            if (r.GetValue(output) == CommandLine.StdioName)
                r.AddError("--out: '-' is not a file; leave --out out to print the manifest (use ./- for a file named '-')");
            if (!hasName && r.GetValue(file) is not null)
                r.AddError("-f adds one domain to an existing manifest: give its NAME (xen-iac import NAME -f MANIFEST), or --out FILE for a new manifest");
        });
        command.SetHandler((parse, ct) =>
        {
            var request = new ImportHandlers.Request(parse.GetValue(name), parse.GetValue(host), parse.GetValue(savefiles), parse.GetValue(output),
                parse.GetValue(file), parse.GetValue(force), parse.GetValue(json));
            return request.Name is null ? ImportHandlers.ImportAllAsync(request, ct) : ImportHandlers.ImportOneAsync(request, ct);
        });
        return command;
    }
}
