using Microsoft.Build.Framework;

namespace XenIac.MSBuild;

/// <summary><c>xl create</c> as a task: boots a new domain from a config file (xl.cfg or libxl JSON).</summary>
public sealed class XenIacCreateDomain : XenIacHostTask
{
    [Required] public string Config { get; set; } = "";

    public bool Paused { get; set; }

    /// <summary>Destroy a running domain of the name the config declares before creating it.</summary>
    public bool Replace { get; set; }

    [Output] public string? DomainName { get; set; }

    [Output] public int DomId { get; set; }

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        Operation = $"Creating a domain from '{Config}'";
        var config = await LoadConfigAsync(Config, cancellationToken).ConfigureAwait(false);
        if (config is null) return;
        var name = CurrentDomain = ConfigNames.Find(config.Text, config.Language);

        await using var host = OpenHost(Host);
        if (name is not null && await host.FindDomainAsync(name, cancellationToken).ConfigureAwait(false) is not null)
        {
            if (!Replace)
            {
                LogCodedError(Strings.DomainExists, name, host.Spec, "its config asks for a new domain of that name");
                return;
            }
            Log.LogMessage(MessageImportance.Normal, "XenIac: destroying the running domain '{0}' on {1} before creating it (Replace)", name, host.Spec);
            await host.DestroyAsync(name, cancellationToken).ConfigureAwait(false);
        }

        var domain = await host.CreateAsync(config, Paused, cancellationToken).ConfigureAwait(false);
        DomainName = domain.Name;
        DomId = checked((int)domain.DomId);
        Log.LogMessage(MessageImportance.High, "XenIac: created domain '{0}' (id {1}, {2}) on {3}", domain.Name, domain.DomId, domain.State, host.Spec);
    }
}
