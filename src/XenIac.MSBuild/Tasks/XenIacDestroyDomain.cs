using Microsoft.Build.Framework;

namespace XenIac.MSBuild;

/// <summary><c>xl destroy</c> as a task. Savefiles are never touched.</summary>
public sealed class XenIacDestroyDomain : XenIacHostTask
{
    [Required] public string Domain { get; set; } = "";

    /// <summary>A domain that is not there is fine (clean-up targets); otherwise it is error XIAC0003.</summary>
    public bool IgnoreMissing { get; set; }

    private protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        Operation = $"Destroying domain '{Domain}'";
        CurrentDomain = Domain;
        await using var host = OpenHost(Host);
        if (await host.FindDomainAsync(Domain, cancellationToken).ConfigureAwait(false) is null)
        {
            if (IgnoreMissing)
                Log.LogMessage(MessageImportance.Normal, "XenIac: domain '{0}' is not on {1}; nothing to destroy", Domain, host.Spec);
            else
                LogCodedError(Strings.DomainNotFound, Domain, host.Spec, "no domain of that name is on the host");
            return;
        }
        await host.DestroyAsync(Domain, cancellationToken).ConfigureAwait(false);
        Log.LogMessage(MessageImportance.High, "XenIac: destroyed domain '{0}' on {1}", Domain, host.Spec);
    }
}
