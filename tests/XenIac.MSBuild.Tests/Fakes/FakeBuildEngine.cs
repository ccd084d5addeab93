using System.Collections;
using Microsoft.Build.Framework;

namespace XenIac.MSBuild.Tests.Fakes;

/// <summary>Captures what a task logs, as MSBuild's loggers would see it.</summary>
public sealed class FakeBuildEngine(string projectFile) : IBuildEngine
{
    public List<BuildErrorEventArgs> Errors { get; } = [];
    public List<BuildWarningEventArgs> Warnings { get; } = [];
    public List<BuildMessageEventArgs> Messages { get; } = [];

    public bool ContinueOnError => false;
    public int LineNumberOfTaskNode => 0;
    public int ColumnNumberOfTaskNode => 0;
    public string ProjectFileOfTaskNode { get; } = projectFile;

    public IEnumerable<string> ErrorCodes => Errors.Select(e => e.Code);

    public void LogErrorEvent(BuildErrorEventArgs e) { lock (Errors) Errors.Add(e); }
    public void LogWarningEvent(BuildWarningEventArgs e) { lock (Warnings) Warnings.Add(e); }
    public void LogMessageEvent(BuildMessageEventArgs e) { lock (Messages) Messages.Add(e); }
    public void LogCustomEvent(CustomBuildEventArgs e) { }

    public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) =>
        throw new NotSupportedException();

    public override string ToString() =>
        string.Join(Environment.NewLine, Errors.Select(e => $"error {e.Code}: {e.Message}")
            .Concat(Warnings.Select(w => $"warning {w.Code}: {w.Message}"))
            .Concat(Messages.Select(m => $"message: {m.Message}")));
}
